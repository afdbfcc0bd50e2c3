// Command etcd is the upstream etcd server, built from the
// go.etcd.io/etcd/server/v3 Go module. It mirrors go.etcd.io/etcd/v3/main.go.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
