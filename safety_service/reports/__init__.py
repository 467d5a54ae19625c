"""The DSMB report and the signal pages' figures: built from one data cut, the same bytes for the same cut-off."""
