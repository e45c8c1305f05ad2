"""The operations cockpit (驾驶舱): vital signs of a jurisdiction and the map's point layers."""
