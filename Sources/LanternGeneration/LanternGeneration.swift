// LanternGeneration
