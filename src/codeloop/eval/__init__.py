"""`codeloop eval`: benchmarks run through the same loop the server uses, scored and reported."""
