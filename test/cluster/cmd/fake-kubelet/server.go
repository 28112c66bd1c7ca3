package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

const (
	streamIdleTimeout     = 4 * time.Hour
	streamCreationTimeout = 30 * time.Second
)

// newHandler serves the kubelet endpoints the kube-apiserver proxies to
// (pkg/kubelet/server in Kubernetes): exec, port-forward and container logs.
func newHandler(pods *podRuntime) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/exec/{namespace}/{pod}/{container}", func(w http.ResponseWriter, req *http.Request) {
		serveExec(w, req, pods, req.PathValue("namespace"), req.PathValue("pod"), req.PathValue("container"))
	})
	mux.HandleFunc("/exec/{namespace}/{pod}/{uid}/{container}", func(w http.ResponseWriter, req *http.Request) {
		serveExec(w, req, pods, req.PathValue("namespace"), req.PathValue("pod"), req.PathValue("container"))
	})
	mux.HandleFunc("/portForward/{namespace}/{pod}", func(w http.ResponseWriter, req *http.Request) {
		servePortForward(w, req, pods, req.PathValue("namespace"), req.PathValue("pod"))
	})
	mux.HandleFunc("/portForward/{namespace}/{pod}/{uid}", func(w http.ResponseWriter, req *http.Request) {
		servePortForward(w, req, pods, req.PathValue("namespace"), req.PathValue("pod"))
	})
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", func(w http.ResponseWriter, req *http.Request) {
		serveLogs(w, req, pods, req.PathValue("namespace"), req.PathValue("pod"), req.PathValue("container"))
	})
	return mux
}

func serveExec(w http.ResponseWriter, req *http.Request, pods *podRuntime, namespace, name, container string) {
	pod, ok := pods.pod(namespace, name)
	if !ok {
		http.Error(w, fmt.Sprintf("pod %s/%s not found on this node", namespace, name), http.StatusNotFound)
		return
	}
	streamOpts, err := remotecommand.NewOptions(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cmd := req.URL.Query()[corev1.ExecCommandParam]
	executor := &localExecutor{dir: pods.podDir(namespace, name)}
	remotecommand.ServeExec(w, req, executor, namespace+"/"+name, string(pod.UID), container, cmd, streamOpts,
		streamIdleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

// localExecutor runs the exec'd command as a local process in the pod's
// directory, with a pseudo-terminal when the client asked for a TTY.
type localExecutor struct{ dir string }

func (e *localExecutor) ExecInContainer(ctx context.Context, _, _, _ string, argv []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	if len(argv) == 0 {
		return errors.New("no command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), "TERM=xterm")
	// Output copying must not outlive the process by long (a background
	// child could keep the pipes open forever).
	cmd.WaitDelay = 2 * time.Second
	if tty {
		return runWithPty(cmd, in, out, resize)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if out != nil {
		cmd.Stdout = out
	}
	if errOut != nil {
		cmd.Stderr = errOut
	}
	var stdin io.WriteCloser
	if in != nil {
		pipe, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		stdin = pipe
	}
	if err := cmd.Start(); err != nil {
		return exitError(127, err)
	}
	if stdin != nil {
		// Copy stdin until the client's EOF, then close the process's stdin;
		// not waited for, so a client that never closes stdin cannot hold the
		// exit status back.
		go func() {
			_, _ = io.Copy(stdin, in)
			_ = stdin.Close()
		}()
	}
	return exitStatus(cmd.Wait())
}

func runWithPty(cmd *exec.Cmd, in io.Reader, out io.WriteCloser, resize <-chan remotecommand.TerminalSize) error {
	terminal, err := pty.Start(cmd)
	if err != nil {
		return exitError(127, err)
	}
	defer terminal.Close()
	go func() {
		for size := range resize {
			_ = pty.Setsize(terminal, &pty.Winsize{Rows: size.Height, Cols: size.Width})
		}
	}()
	if in != nil {
		go func() { _, _ = io.Copy(terminal, in) }()
	}
	var copied sync.WaitGroup
	if out != nil {
		copied.Add(1)
		go func() {
			defer copied.Done()
			// Reading the pty master fails with EIO once the process side closes.
			_, _ = io.Copy(out, terminal)
		}()
	}
	err = cmd.Wait()
	copied.Wait()
	return exitStatus(err)
}

func exitStatus(err error) error {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code := exitErr.ExitCode()
		if status, ok := exitErr.Sys().(syscall.WaitStatus); ok && status.Signaled() {
			code = 128 + int(status.Signal())
		}
		return exitError(code, err)
	}
	return err
}

func exitError(code int, err error) error {
	return utilexec.CodeExitError{Err: err, Code: code}
}

func servePortForward(w http.ResponseWriter, req *http.Request, pods *podRuntime, namespace, name string) {
	pod, ok := pods.pod(namespace, name)
	if !ok {
		http.Error(w, fmt.Sprintf("pod %s/%s not found on this node", namespace, name), http.StatusNotFound)
		return
	}
	opts, err := portforward.NewV4Options(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	forwarder := &localForwarder{pods: pods, namespace: namespace, name: name}
	portforward.ServePortForward(w, req, forwarder, name, string(pod.UID), opts,
		streamIdleTimeout, streamCreationTimeout, portforward.SupportedProtocols)
}

// localForwarder connects a port-forward stream to the local endpoint that
// stands in for the pod's port.
type localForwarder struct {
	pods            *podRuntime
	namespace, name string
}

func (f *localForwarder) PortForward(ctx context.Context, _, _ string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	addr, err := f.pods.localEndpoint(f.namespace, f.name, port)
	if err != nil {
		return err
	}
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("pod port %d (%s): %w", port, addr, err)
	}
	defer conn.Close()
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(conn, stream)
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.CloseWrite()
		}
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(stream, conn)
		done <- struct{}{}
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	// Give the other direction a moment to drain before closing both.
	select {
	case <-done:
	case <-time.After(time.Second):
	case <-ctx.Done():
	}
	return nil
}

// logLine is one parsed CRI log record.
type logLine struct {
	time    time.Time
	content string
}

func parseLogLine(raw string) (logLine, bool) {
	// "<RFC3339Nano> <stream> <tag> <content>"
	parts := strings.SplitN(raw, " ", 4)
	if len(parts) < 3 {
		return logLine{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, parts[0])
	if err != nil {
		return logLine{}, false
	}
	content := ""
	if len(parts) == 4 {
		content = parts[3]
	}
	return logLine{time: t, content: content}, true
}

// serveLogs implements the kubelet's containerLogs endpoint over the
// container's CRI log file: tailLines, sinceSeconds / sinceTime, timestamps,
// limitBytes and follow.
func serveLogs(w http.ResponseWriter, req *http.Request, pods *podRuntime, namespace, name, container string) {
	if _, ok := pods.pod(namespace, name); !ok {
		http.Error(w, fmt.Sprintf("pod %s/%s not found on this node", namespace, name), http.StatusNotFound)
		return
	}
	query := req.URL.Query()
	follow := query.Get("follow") == "true"
	timestamps := query.Get("timestamps") == "true"
	tail := -1
	if v := query.Get("tailLines"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			http.Error(w, "bad tailLines", http.StatusBadRequest)
			return
		}
		tail = n
	}
	var since time.Time
	if v := query.Get("sinceSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			http.Error(w, "bad sinceSeconds", http.StatusBadRequest)
			return
		}
		since = time.Now().Add(-time.Duration(n) * time.Second)
	} else if v := query.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			http.Error(w, "bad sinceTime", http.StatusBadRequest)
			return
		}
		since = t
	}
	limit := int64(-1)
	if v := query.Get("limitBytes"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			http.Error(w, "bad limitBytes", http.StatusBadRequest)
			return
		}
		limit = n
	}

	path := pods.logPath(namespace, name, container)
	file, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		if err = os.MkdirAll(pods.podDir(namespace, name), 0o755); err == nil {
			file, err = os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o644)
		}
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer file.Close()

	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	written := int64(0)
	emit := func(line logLine) bool {
		text := line.content + "\n"
		if timestamps {
			text = line.time.Format(time.RFC3339Nano) + " " + text
		}
		if limit >= 0 && written+int64(len(text)) > limit {
			text = text[:limit-written]
		}
		n, err := io.WriteString(w, text)
		written += int64(n)
		return err == nil && (limit < 0 || written < limit)
	}

	reader := bufio.NewReader(file)
	var existing []logLine
	for {
		raw, err := reader.ReadString('\n')
		if err != nil {
			// A partial last line stays for the follow loop to finish.
			if _, seekErr := file.Seek(-int64(len(raw)), io.SeekCurrent); seekErr == nil {
				reader.Reset(file)
			}
			break
		}
		if line, ok := parseLogLine(strings.TrimSuffix(raw, "\n")); ok && !line.time.Before(since) {
			existing = append(existing, line)
		}
	}
	if tail >= 0 && len(existing) > tail {
		existing = existing[len(existing)-tail:]
	}
	for _, line := range existing {
		if !emit(line) {
			return
		}
	}
	if flusher != nil {
		flusher.Flush()
	}
	if !follow {
		return
	}

	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	pending := ""
	for {
		select {
		case <-req.Context().Done():
			return
		case <-ticker.C:
		}
		if _, ok := pods.pod(namespace, name); !ok {
			return
		}
		for {
			chunk, err := reader.ReadString('\n')
			pending += chunk
			if err != nil {
				break
			}
			if line, ok := parseLogLine(strings.TrimSuffix(pending, "\n")); ok && !line.time.Before(since) {
				if !emit(line) {
					return
				}
			}
			pending = ""
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}
