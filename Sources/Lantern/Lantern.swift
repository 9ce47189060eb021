// Lantern
