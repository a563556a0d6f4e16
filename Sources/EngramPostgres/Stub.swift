enum _StubEngramPostgres {}
