// proxy-nginx.test.mjs - the proxy's integration checks (proxy.test.mjs)
// once more with nginx in front (CAPTURE_FRONT=nginx, deploy/nginx.conf)
// instead of lighttpd: every stack those tests start inherits it.
import { describe } from 'node:test';

process.env.CAPTURE_FRONT = 'nginx';
describe('under nginx (CAPTURE_FRONT=nginx): the checks of proxy.test.mjs', async () => {
	await import('./proxy.test.mjs');
});
