package scalar3d

//go:generate go run ./internal/gen
