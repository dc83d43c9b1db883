# The whole input is one record: RS matches only at the very end.
BEGIN { RS = "^$"; ORS = "" }
{ print }
