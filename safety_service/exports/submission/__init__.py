"""The submission-ready SDTM package (SDTMIG 3.4): datasets and their metadata, records, define.xml, guide, zip."""
