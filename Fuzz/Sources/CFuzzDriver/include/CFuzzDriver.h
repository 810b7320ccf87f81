#pragma once
#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer's driver (its command line, corpus handling, crash reports) with `test` as the target.
/// SwiftPM links an executable's entry point as `<Target>_main`, so each fuzz target defines that and
/// calls this instead of relying on libFuzzer's own `main`.
int journeyd_fuzz_main(int argc, char **argv, int (*test)(const uint8_t *data, size_t size));
