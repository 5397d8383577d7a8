//go:build tools

// Package tools pins Prometheus as a dependency of this module; hack/ensure-tool.sh builds the
// package named in ./PACKAGE (Prometheus' promtool) from it, for `promtool test rules`.
package tools

import _ "github.com/prometheus/prometheus/promql"
