// LanternTokenizers
