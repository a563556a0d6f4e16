enum _StubEngramDatasets {}
