package scalar

//go:generate go run ./internal/gen
