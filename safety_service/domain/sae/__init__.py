"""Serious adverse events after the save: the report series and its clocks, possible SUSARs, the CIOMS I fields."""
