// Command fake-kubelet is the node agent of airlock's hermetic test cluster.
//
// It registers one Ready Node, marks the pods bound to it as Running, and
// serves the kubelet's streaming endpoints with the kubelet's own protocol
// library (k8s.io/cri-streaming), so the kube-apiserver proxies exec,
// port-forward and logs to it exactly as it would to a real kubelet. The
// "containers" are local processes: see README.md beside this file for how a
// test declares what a container does.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

type options struct {
	kubeconfig string
	nodeName   string
	address    string
	port       int
	stateDir   string
	tlsCert    string
	tlsKey     string
	clientCA   string
	clientCN   string
}

func main() {
	var opts options
	flag.StringVar(&opts.kubeconfig, "kubeconfig", "", "kubeconfig used to register the node and write pod status")
	flag.StringVar(&opts.nodeName, "node-name", "fake-node", "name of the Node to register")
	flag.StringVar(&opts.address, "address", "127.0.0.1", "address to serve on and to publish as the node's InternalIP")
	flag.IntVar(&opts.port, "port", 0, "HTTPS port of the kubelet endpoint")
	flag.StringVar(&opts.stateDir, "state-dir", "", "directory for container working directories and log files")
	flag.StringVar(&opts.tlsCert, "tls-cert-file", "", "serving certificate (PEM)")
	flag.StringVar(&opts.tlsKey, "tls-private-key-file", "", "serving key (PEM)")
	flag.StringVar(&opts.clientCA, "client-ca-file", "", "CA that signs the kube-apiserver's kubelet client certificate")
	flag.StringVar(&opts.clientCN, "client-cn", "kube-apiserver-kubelet-client", "the only client certificate common name accepted (the apiserver's)")
	flag.Parse()
	if opts.kubeconfig == "" || opts.port == 0 || opts.stateDir == "" || opts.tlsCert == "" || opts.tlsKey == "" || opts.clientCA == "" {
		log.Fatal("fake-kubelet: --kubeconfig, --port, --state-dir, --tls-cert-file, --tls-private-key-file and --client-ca-file are required")
	}
	if err := run(opts); err != nil {
		log.Fatalf("fake-kubelet: %v", err)
	}
}

func run(opts options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	config, err := clientcmd.BuildConfigFromFlags("", opts.kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}

	pods := newPodRuntime(client, opts.nodeName, opts.address, opts.stateDir)
	if err := registerNode(ctx, client, opts.nodeName, opts.address, int32(opts.port)); err != nil {
		return fmt.Errorf("register node: %w", err)
	}
	go pods.run(ctx)

	caPEM, err := os.ReadFile(opts.clientCA)
	if err != nil {
		return err
	}
	clientCAs := x509.NewCertPool()
	if !clientCAs.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("no certificate in %s", opts.clientCA)
	}
	server := &http.Server{
		Addr:    fmt.Sprintf("%s:%d", opts.address, opts.port),
		Handler: newHandler(pods),
		// Only the kube-apiserver, holding a client certificate from the
		// cluster CA, may ask this process to run commands.
		TLSConfig: &tls.Config{
			ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs, MinVersion: tls.VersionTLS12,
			// The cluster CA also signs users' CSRs; a user's certificate must
			// not reach the kubelet directly, around RBAC.
			VerifyPeerCertificate: func(_ [][]byte, chains [][]*x509.Certificate) error {
				if len(chains) == 0 || chains[0][0].Subject.CommonName != opts.clientCN {
					return fmt.Errorf("client certificate is not the apiserver's (%s)", opts.clientCN)
				}
				return nil
			},
		},
		ReadHeaderTimeout: 10 * time.Second,
	}
	errs := make(chan error, 1)
	go func() { errs <- server.ListenAndServeTLS(opts.tlsCert, opts.tlsKey) }()
	log.Printf("fake-kubelet: node %s serving on %s", opts.nodeName, server.Addr)

	select {
	case err := <-errs:
		pods.stopAll()
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = server.Shutdown(shutdownCtx)
	pods.stopAll()
	return nil
}
