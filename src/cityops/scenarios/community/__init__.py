"""数字社区驾驶舱: a community's digital twin (buildings, roads, facilities, cameras) and boards."""
