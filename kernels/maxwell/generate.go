package maxwell

//go:generate go run ./internal/gen
