"""OCDS procurement data: the reader, Cardinal's red-flag indicators, and the out-of-core driver.

`reader` turns publishers' files into compiled releases and a per-process flag table;
`indicators` is the port of OCDS Cardinal's indicators; `flags` streams files of any size
through them by buyer country and returns country-year partial sums.
"""
