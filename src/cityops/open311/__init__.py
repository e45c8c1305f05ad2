"""Open311 GeoReport v2: the door other cities' systems and apps report through."""
