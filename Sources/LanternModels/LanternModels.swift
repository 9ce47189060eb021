// LanternModels
