// CFuzzDriver has no code of its own: its header declares libFuzzer's driver entry for fuzz/Driver.
#include "CFuzzDriver.h"
