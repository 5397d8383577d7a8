// Command kubectl is the upstream kubectl, built from its published Go module (pinned to the same
// Kubernetes release as hack/tools/kube-apiserver) so tests can render kustomizations and run
// server-side dry-runs without a system kubectl. See hack/ensure-tool.sh.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	if err := cli.RunNoErrOutput(cmd.NewDefaultKubectlCommand()); err != nil {
		util.CheckErr(err)
	}
	os.Exit(0)
}
