// Command pause is the sandbox ("pause") container of the hermetic cluster's
// real node: it holds a pod's namespaces open, reaps orphaned children (it is
// PID 1 of pods that share their PID namespace) and exits on SIGINT or
// SIGTERM. No registry is reachable from the test machines, so the image is
// made locally from this static binary (services/cli/dev/real-node/pause-image.ts).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
