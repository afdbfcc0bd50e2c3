// Command pause is the pod sandbox ("pause") container of the e2e cluster: it holds the
// pod's namespaces open and does nothing else. It does what Kubernetes' pause.c does —
// block until SIGINT or SIGTERM, then exit 0 — written in Go so that we build it here
// instead of pulling registry.k8s.io/pause, which no registry on our machines serves.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)

	// With shareProcessNamespace the sandbox is PID 1 of the pod, so orphans are
	// reparented to us: reap them as pause.c does, or they stay zombies.
	children := make(chan os.Signal, 1)
	signal.Notify(children, syscall.SIGCHLD)

	for {
		select {
		case <-stop:
			os.Exit(0)
		case <-children:
			for {
				pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		}
	}
}
