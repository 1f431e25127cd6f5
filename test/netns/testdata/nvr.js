// An NVR's side of ONVIF, with the npm onvif library: find the camera by
// WS-Discovery, connect with a user's password, read its profiles and the
// stream and snapshot addresses; then try a wrong password. Prints one
// JSON line for the Go test to check.
const onvif = require('onvif');
const [user, pass, wrong] = process.argv.slice(2);
const out = {};
const done = () => { console.log(JSON.stringify(out)); process.exit(0); };
onvif.Discovery.on('error', () => {}); // a stray datagram must not end the process
onvif.Discovery.probe({ timeout: 3000, resolve: false }, (err, matches) => {
  const ours = (matches || []).map((m) => m.probeMatches && m.probeMatches.probeMatch)
    .filter((m) => m && String(m.types).includes('NetworkVideoTransmitter'));
  out.discovered = ours.length;
  if (!ours.length) { out.error = 'nothing discovered: ' + JSON.stringify(err); return done(); }
  out.endpoint = ours[0].endpointReference.address;
  const xaddr = new URL(String(ours[0].XAddrs).split(' ')[0]);
  out.xaddr = xaddr.href;
  const opts = { hostname: xaddr.hostname, port: xaddr.port || 80, path: xaddr.pathname, username: user, password: pass, timeout: 10000 };
  new onvif.Cam(opts, function (err) {
    if (err) { out.error = 'connect: ' + err.message; return done(); }
    out.profiles = (this.profiles || []).map((p) => p.$.token);
    out.activeSource = this.activeSource;
    this.getDeviceInformation((err, info) => {
      out.info = err ? 'error: ' + err.message : info;
      this.getStreamUri({ protocol: 'RTSP' }, (err, stream) => {
        out.stream = err ? 'error: ' + err.message : stream.uri;
        this.getSnapshotUri((err, snap) => {
          out.snapshot = err ? 'error: ' + err.message : snap.uri;
          new onvif.Cam({ ...opts, password: wrong }, (err) => {
            out.wrong = err ? err.message : 'accepted';
            done();
          });
        });
      });
    });
  });
});
