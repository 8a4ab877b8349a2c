module github.com/torchwave/torchwave

go 1.26
