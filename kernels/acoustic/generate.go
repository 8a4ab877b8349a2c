package acoustic

//go:generate go run ./internal/gen
