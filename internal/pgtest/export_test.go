package pgtest

// SweepStale exposes sweepStale to the tests.
var SweepStale = sweepStale
