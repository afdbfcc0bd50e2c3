//go:build tools

// Package images pins the Go programs that build.sh packs into images, so that `go mod
// tidy` keeps them in go.mod. echo-basic is the Gateway API conformance suite's echo
// backend; its package is a main, so it is imported only under this build tag.
package images

import _ "sigs.k8s.io/gateway-api/conformance/echo-basic"
