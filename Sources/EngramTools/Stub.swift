enum _StubEngramTools {}
