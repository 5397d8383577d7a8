// Command etcd is upstream etcd, built from its published Go module for the integration tests.
// See hack/ensure-tool.sh.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
