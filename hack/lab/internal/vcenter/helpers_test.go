package vcenter

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"vmdr.local/lab/internal/clock"
	"vmdr.local/lab/internal/fabric"
	"vmdr.local/lab/internal/topology"
)

const (
	testUser = "administrator@vsphere.local"
	testPass = "VMware1!"
)

// staticFabric is a hand-driven storage fabric: the tests decide what each array presents.
type staticFabric struct {
	mu   sync.Mutex
	devs map[string][]fabric.Device // by site
}

func (f *staticFabric) Devices(site string) []fabric.Device {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]fabric.Device, len(f.devs[site]))
	copy(out, f.devs[site])
	return out
}

// update changes the device of a site's volume.
func (f *staticFabric) update(t testing.TB, site, volume string, change func(*fabric.Device)) fabric.Device {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.devs[site] {
		if f.devs[site][i].Volume == volume {
			change(&f.devs[site][i])
			return f.devs[site][i]
		}
	}
	t.Fatalf("no volume %s at %s", volume, site)
	return fabric.Device{}
}

// add presents a new device (a FlexClone, say).
func (f *staticFabric) add(d fabric.Device) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.devs[d.Site] = append(f.devs[d.Site], d)
}

// remove stops presenting a device (the clone is destroyed).
func (f *staticFabric) remove(site, volume string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keep []fabric.Device
	for _, d := range f.devs[site] {
		if d.Volume != volume {
			keep = append(keep, d)
		}
	}
	f.devs[site] = keep
}

func (f *staticFabric) device(t testing.TB, site, volume string) fabric.Device {
	return f.update(t, site, volume, func(*fabric.Device) {})
}

// newStaticFabric presents the topology's volumes the way the arrays would at start: every LUN
// online and mapped per topology, source volumes writable and formatted, replicas read-only and
// empty; NFS volumes exported where the topology mounts them.
func newStaticFabric(t testing.TB, w topology.World) *staticFabric {
	t.Helper()
	root := t.TempDir()
	f := &staticFabric{devs: map[string][]fabric.Device{}}
	for _, s := range w.Sites {
		igroups := map[string][]string{}
		for _, g := range s.Array.Igroups {
			igroups[g.Name] = g.Initiators
		}
		exports := map[string][]string{}
		for _, p := range s.Array.ExportPolicies {
			exports[p.Name] = p.Clients
		}
		for _, vol := range s.Array.Volumes {
			d := fabric.Device{Site: s.ID, Volume: vol.Name, Writable: vol.Type == "rw"}
			volDir := filepath.Join(root, s.ID, vol.Name)
			switch {
			case vol.LUN != nil:
				d.Protocol = fabric.VMFS
				d.Dir = filepath.Join(volDir, vol.LUN.Name)
				d.LunPath = "/vol/" + vol.Name + "/" + vol.LUN.Name
				d.Serial = fmt.Sprintf("%-12.12s", fmt.Sprintf("%s%s", s.ID[4:], vol.Name))
				d.NAA = fabric.NAAFromSerial(d.Serial)
				d.Online = true
				for _, g := range vol.LUN.MapsTo {
					d.Initiators = append(d.Initiators, igroups[g]...)
				}
				if err := os.MkdirAll(d.Dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if d.Writable {
					if err := fabric.WriteHeader(d.Dir, fabric.Header{Label: vol.Datastore, UUID: topology.UUIDFor("vmfs", s.ID+"/"+vol.Name), Device: d.NAA}); err != nil {
						t.Fatal(err)
					}
				}
			case vol.NAS != nil:
				d.Protocol = fabric.NFS
				d.Dir = volDir
				d.Server = s.Array.DataLIF
				d.ExportPath = vol.NAS.JunctionPath
				d.ReadWrite = exports[vol.NAS.ExportPolicy]
				if err := os.MkdirAll(d.Dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			f.devs[s.ID] = append(f.devs[s.ID], d)
		}
	}
	return f
}

// replicate copies a volume's data from one site to the other, as a SnapMirror transfer does.
func replicate(t testing.TB, f *staticFabric, fromSite, fromVol, toSite, toVol string) {
	t.Helper()
	src := f.device(t, fromSite, fromVol)
	dst := f.device(t, toSite, toVol)
	if err := os.RemoveAll(dst.Dir); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(dst.Dir, os.DirFS(src.Dir)); err != nil {
		t.Fatal(err)
	}
}

// testTLS makes a self-signed server certificate for 127.0.0.1 and a client pool trusting it.
func testTLS(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vcenter.lab"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

// lab is a test's two-site world.
type lab struct {
	world  topology.World
	fabric *staticFabric
	clock  *clock.Clock
	pool   *x509.CertPool
	vc     map[string]*VCenter
}

func newLab(t testing.TB, o topology.Options, opts Options) *lab {
	t.Helper()
	w := topology.VMbook(o)
	l := &lab{world: w, fabric: newStaticFabric(t, w), clock: clock.New(), vc: map[string]*VCenter{}}
	cfg, pool := testTLS(t)
	l.pool = pool
	if opts.User == "" {
		opts.User, opts.Password = testUser, testPass
	}
	for _, s := range w.Sites {
		v, err := New(s, l.fabric, l.clock, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = v.Close() })
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Serve(ln, cfg); err != nil {
			t.Fatal(err)
		}
		l.vc[s.ID] = v
	}
	return l
}

// client logs in to a site's vCenter over HTTPS with govmomi, verifying the certificate.
func (l *lab) client(t testing.TB, site string) *govmomi.Client {
	t.Helper()
	ctx := context.Background()
	u := l.vc[site].URL()
	u.User = url.UserPassword(testUser, testPass)
	c, err := newClient(ctx, u, l.pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Logout(context.Background()) })
	return c
}

func newClient(ctx context.Context, u *url.URL, pool *x509.CertPool) (*govmomi.Client, error) {
	sc := soapClient(u, pool)
	return clientFromSOAP(ctx, sc, u)
}

// finder returns a finder on the site's datacenter.
func finder(t testing.TB, c *govmomi.Client, dc string) *find.Finder {
	t.Helper()
	f := find.NewFinder(c.Client, true)
	d, err := f.Datacenter(context.Background(), dc)
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(d)
	return f
}

func mustVM(t testing.TB, f *find.Finder, path string) *object.VirtualMachine {
	t.Helper()
	vm, err := f.VirtualMachine(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

func vmProps(t testing.TB, vm *object.VirtualMachine, props ...string) mo.VirtualMachine {
	t.Helper()
	var m mo.VirtualMachine
	if err := vm.Properties(context.Background(), vm.Reference(), props, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// waitTask waits for a task and returns its error (as a *types.LocalizedMethodFault when it failed).
func waitTask(t testing.TB, task *object.Task) (types.AnyType, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := task.WaitForResult(ctx, nil)
	if info != nil {
		return info.Result, err
	}
	return nil, err
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func soapClient(u *url.URL, pool *x509.CertPool) *soap.Client {
	sc := soap.NewClient(u, false)
	sc.DefaultTransport().TLSClientConfig.RootCAs = pool
	return sc
}

func clientFromSOAP(ctx context.Context, sc *soap.Client, u *url.URL) (*govmomi.Client, error) {
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, err
	}
	c := &govmomi.Client{Client: vc, SessionManager: session.NewManager(vc)}
	if err := c.Login(ctx, u.User); err != nil {
		return nil, err
	}
	return c, nil
}

// resolveCopies resolves every unresolved VMFS copy a host found ("forceMount" or "resignature")
// and returns the results.
func resolveCopies(t testing.TB, c *govmomi.Client, ss *object.HostStorageSystem, mode string) []types.HostUnresolvedVmfsResolutionResult {
	t.Helper()
	ctx := context.Background()
	vols, err := ss.QueryUnresolvedVmfsVolumes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(vols) == 0 {
		t.Fatal("no unresolved VMFS copies")
	}
	var specs []types.HostUnresolvedVmfsResolutionSpec
	for _, v := range vols {
		specs = append(specs, types.HostUnresolvedVmfsResolutionSpec{ExtentDevicePath: []string{v.Extent[0].DevicePath}, UuidResolution: mode})
	}
	res, err := methods.ResolveMultipleUnresolvedVmfsVolumes(ctx, c.Client, &types.ResolveMultipleUnresolvedVmfsVolumes{This: ss.Reference(), ResolutionSpec: specs})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Returnval {
		if r.Fault != nil {
			t.Fatalf("resolving %v: %s", r.Spec.ExtentDevicePath, r.Fault.LocalizedMessage)
		}
	}
	return res.Returnval
}
