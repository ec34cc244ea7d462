"""Police stations and the safe zones they designate."""
