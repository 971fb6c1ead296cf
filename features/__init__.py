"""Feature stage: raw proxy-data files in, one harmonized country-year panel out."""
