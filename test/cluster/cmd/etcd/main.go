// Command etcd runs the etcd server from its Go module, so the hermetic
// cluster does not depend on a distribution's (older) etcd package.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
