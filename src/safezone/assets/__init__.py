"""Things with a place on the map: the shared point-asset base, risk points, street lights."""
