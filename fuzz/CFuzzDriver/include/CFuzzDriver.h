#ifndef CFUZZDRIVER_H
#define CFUZZDRIVER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's entry for programs that keep their own main (LLVM 11 and later): parses libFuzzer's
/// flags from argv and fuzzes `callback`. Only linked in by `-sanitize=fuzzer` (fuzz/run.sh).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
