package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
)

// portsAnnotation maps a pod's ports to local endpoints for port-forward,
// e.g. {"8080":"127.0.0.1:40123"}. It overrides the automatic mapping.
const portsAnnotation = "fake-kubelet.airlock.dev/ports"

// podRuntime keeps the fake node's view of its pods: their local processes,
// working directories, log files and port mapping.
type podRuntime struct {
	client   kubernetes.Interface
	nodeName string
	address  string
	stateDir string

	mu   sync.Mutex
	pods map[string]*localPod // key: namespace/name
	// lister is set once the informer runs; lookups go through it.
	lister cache.Store
}

type localPod struct {
	uid        string
	dir        string
	ports      map[int32]string // pod port → local host:port
	processes  []*exec.Cmd
	containers map[string]bool // containers started (incl. ephemeral)
}

func newPodRuntime(client kubernetes.Interface, nodeName, address, stateDir string) *podRuntime {
	return &podRuntime{client: client, nodeName: nodeName, address: address, stateDir: stateDir, pods: map[string]*localPod{}}
}

func podKey(namespace, name string) string { return namespace + "/" + name }

func (r *podRuntime) run(ctx context.Context) {
	selector := fields.OneTermEqualSelector("spec.nodeName", r.nodeName).String()
	watchList := cache.NewFilteredListWatchFromClient(r.client.CoreV1().RESTClient(), "pods", metav1.NamespaceAll,
		func(o *metav1.ListOptions) { o.FieldSelector = selector })
	store, controller := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: watchList,
		ObjectType:    &corev1.Pod{},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { r.sync(ctx, obj.(*corev1.Pod)) },
			UpdateFunc: func(_, obj any) { r.sync(ctx, obj.(*corev1.Pod)) },
			DeleteFunc: func(obj any) {
				if pod, ok := obj.(*corev1.Pod); ok {
					r.forget(podKey(pod.Namespace, pod.Name))
				}
			},
		},
	})
	r.mu.Lock()
	r.lister = store
	r.mu.Unlock()
	controller.Run(ctx.Done())
}

// pod returns the current API object of a pod bound to this node.
func (r *podRuntime) pod(namespace, name string) (*corev1.Pod, bool) {
	r.mu.Lock()
	store := r.lister
	r.mu.Unlock()
	if store == nil {
		return nil, false
	}
	obj, ok, err := store.GetByKey(podKey(namespace, name))
	if err != nil || !ok {
		return nil, false
	}
	return obj.(*corev1.Pod), true
}

// podDir is where a pod's containers run and write their logs.
func (r *podRuntime) podDir(namespace, name string) string {
	return filepath.Join(r.stateDir, "pods", namespace, name)
}

// logPath is the CRI-format log file of one container. Tests may append to it.
func (r *podRuntime) logPath(namespace, name, container string) string {
	return filepath.Join(r.podDir(namespace, name), container+".log")
}

func (r *podRuntime) sync(ctx context.Context, pod *corev1.Pod) {
	key := podKey(pod.Namespace, pod.Name)
	if pod.DeletionTimestamp != nil {
		r.forget(key)
		// No real kubelet will finish the graceful deletion; do it here.
		zero := int64(0)
		err := r.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &pod.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			log.Printf("fake-kubelet: finish deletion of %s: %v", key, err)
		}
		return
	}

	r.mu.Lock()
	local, ok := r.pods[key]
	if ok && local.uid != string(pod.UID) {
		r.mu.Unlock()
		r.forget(key)
		r.mu.Lock()
		ok = false
	}
	if !ok {
		local = &localPod{uid: string(pod.UID), dir: r.podDir(pod.Namespace, pod.Name), ports: map[int32]string{}, containers: map[string]bool{}}
		r.pods[key] = local
	}
	var started []string
	for _, c := range pod.Spec.Containers {
		if !local.containers[c.Name] {
			started = append(started, c.Name)
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if !local.containers[c.Name] {
			started = append(started, c.Name)
		}
	}
	r.mu.Unlock()

	if len(started) > 0 {
		if err := r.start(pod, local, started); err != nil {
			log.Printf("fake-kubelet: start %s: %v", key, err)
		}
	}
	if needsStatus(pod) {
		go r.writeStatusWithRetry(ctx, pod.Namespace, pod.Name)
	}
}

// start creates the pod's directory and log files, allocates local ports for
// declared container ports, and runs each new container's command, if any.
func (r *podRuntime) start(pod *corev1.Pod, local *localPod, names []string) error {
	if err := os.MkdirAll(local.dir, 0o755); err != nil {
		return err
	}
	if err := r.mapPorts(pod, local); err != nil {
		return err
	}
	env := os.Environ()
	r.mu.Lock()
	for port, addr := range local.ports {
		_, localPort, _ := net.SplitHostPort(addr)
		env = append(env, fmt.Sprintf("FAKE_KUBELET_PORT_%d=%s", port, localPort))
	}
	r.mu.Unlock()

	for _, name := range names {
		logFile, err := os.OpenFile(r.logPath(pod.Namespace, pod.Name, name), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		argv := containerArgv(pod, name)
		var cmd *exec.Cmd
		if len(argv) > 0 {
			cmd = exec.Command(argv[0], argv[1:]...)
			cmd.Dir = local.dir
			cmd.Env = env
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			stdout, _ := cmd.StdoutPipe()
			stderr, _ := cmd.StderrPipe()
			if err := cmd.Start(); err != nil {
				fmt.Fprintf(logFile, "%s stderr F fake-kubelet: cannot start %q: %v\n", time.Now().UTC().Format(time.RFC3339Nano), argv, err)
				cmd = nil
			} else {
				writer := &criLogWriter{file: logFile}
				go writer.copyLines("stdout", stdout)
				go writer.copyLines("stderr", stderr)
				go func() { _ = cmd.Wait() }()
			}
		} else {
			_ = logFile.Close()
		}
		r.mu.Lock()
		local.containers[name] = true
		if cmd != nil {
			local.processes = append(local.processes, cmd)
		}
		r.mu.Unlock()
	}
	return nil
}

func containerArgv(pod *corev1.Pod, name string) []string {
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return append(append([]string{}, c.Command...), c.Args...)
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return append(append([]string{}, c.Command...), c.Args...)
		}
	}
	return nil
}

// mapPorts gives every declared container port a free local port (exported to
// the container's process as FAKE_KUBELET_PORT_<port>), unless the pod's
// annotation maps it explicitly.
func (r *podRuntime) mapPorts(pod *corev1.Pod, local *localPod) error {
	explicit := map[string]string{}
	if raw, ok := pod.Annotations[portsAnnotation]; ok {
		if err := json.Unmarshal([]byte(raw), &explicit); err != nil {
			return fmt.Errorf("annotation %s: %w", portsAnnotation, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for port, addr := range explicit {
		n, err := strconv.ParseInt(port, 10, 32)
		if err != nil {
			return fmt.Errorf("annotation %s: port %q: %w", portsAnnotation, port, err)
		}
		local.ports[int32(n)] = addr
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if _, ok := local.ports[p.ContainerPort]; ok {
				continue
			}
			free, err := freePort(r.address)
			if err != nil {
				return err
			}
			local.ports[p.ContainerPort] = net.JoinHostPort(r.address, strconv.Itoa(free))
		}
	}
	return nil
}

func freePort(address string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(address, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// localEndpoint is where a port-forward to the pod's port connects.
func (r *podRuntime) localEndpoint(namespace, name string, port int32) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	local, ok := r.pods[podKey(namespace, name)]
	if !ok {
		return "", fmt.Errorf("pod %s/%s is not running on this node", namespace, name)
	}
	addr, ok := local.ports[port]
	if !ok {
		return "", fmt.Errorf("pod %s/%s declares no port %d (and %s does not map it)", namespace, name, port, portsAnnotation)
	}
	return addr, nil
}

func needsStatus(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning {
		return true
	}
	running := map[string]bool{}
	for _, s := range pod.Status.EphemeralContainerStatuses {
		running[s.Name] = true
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if !running[c.Name] {
			return true
		}
	}
	return false
}

// writeStatusWithRetry keeps trying for a while: right after a pod is bound,
// the Node authorizer's graph may not know it yet and refuse this node's
// status update, and no further watch event would trigger another attempt.
func (r *podRuntime) writeStatusWithRetry(ctx context.Context, namespace, name string) {
	delay := 50 * time.Millisecond
	for attempt := 0; attempt < 20; attempt++ {
		err := r.writeRunningStatus(ctx, namespace, name)
		if err == nil || apierrors.IsNotFound(err) || ctx.Err() != nil {
			return
		}
		log.Printf("fake-kubelet: status of %s/%s (attempt %d): %v", namespace, name, attempt+1, err)
		time.Sleep(delay)
		if delay < time.Second {
			delay *= 2
		}
	}
}

// writeRunningStatus marks the pod and all of its containers (ephemeral ones
// included) as running and ready.
func (r *podRuntime) writeRunningStatus(ctx context.Context, namespace, name string) error {
	pods := r.client.CoreV1().Pods(namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if pod.Spec.NodeName != r.nodeName || pod.DeletionTimestamp != nil {
			return nil
		}
		now := metav1.Now()
		status := func(n, image string) corev1.ContainerStatus {
			return corev1.ContainerStatus{
				Name: n, Image: image, ImageID: "fake://" + image, Ready: true, Started: ptrTrue(),
				ContainerID: fmt.Sprintf("fake://%s/%s/%s", namespace, name, n),
				State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
			}
		}
		pod.Status.Phase = corev1.PodRunning
		pod.Status.HostIP = r.address
		pod.Status.HostIPs = []corev1.HostIP{{IP: r.address}}
		pod.Status.PodIP = r.address
		pod.Status.PodIPs = []corev1.PodIP{{IP: r.address}}
		if pod.Status.StartTime == nil {
			pod.Status.StartTime = &now
		}
		pod.Status.Conditions = nil
		for _, t := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
			pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now})
		}
		pod.Status.ContainerStatuses = nil
		for _, c := range pod.Spec.Containers {
			pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, status(c.Name, c.Image))
		}
		pod.Status.EphemeralContainerStatuses = nil
		for _, c := range pod.Spec.EphemeralContainers {
			pod.Status.EphemeralContainerStatuses = append(pod.Status.EphemeralContainerStatuses, status(c.Name, c.Image))
		}
		_, err = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
}

func ptrTrue() *bool { t := true; return &t }

// forget stops a pod's processes and drops its local state.
func (r *podRuntime) forget(key string) {
	r.mu.Lock()
	local, ok := r.pods[key]
	delete(r.pods, key)
	r.mu.Unlock()
	if ok {
		killAll(local.processes)
	}
}

func (r *podRuntime) stopAll() {
	r.mu.Lock()
	pods := r.pods
	r.pods = map[string]*localPod{}
	r.mu.Unlock()
	for _, local := range pods {
		killAll(local.processes)
	}
}

func killAll(processes []*exec.Cmd) {
	for _, cmd := range processes {
		if cmd.Process != nil {
			// Negative pid: the whole process group the container started.
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}
}

// criLogWriter appends lines in the CRI log format the kubelet reads:
// "<RFC3339Nano> <stream> F <line>".
type criLogWriter struct {
	mu   sync.Mutex
	file *os.File
}

func (w *criLogWriter) copyLines(stream string, from io.Reader) {
	scanner := bufio.NewScanner(from)
	scanner.Buffer(make([]byte, 64*1024), 1024*1024)
	for scanner.Scan() {
		w.mu.Lock()
		_, _ = fmt.Fprintf(w.file, "%s %s F %s\n", time.Now().UTC().Format(time.RFC3339Nano), stream, strings.TrimRight(scanner.Text(), "\r"))
		w.mu.Unlock()
	}
}
