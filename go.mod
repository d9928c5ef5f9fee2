module github.com/brokerkit/brokerkit

go 1.25
