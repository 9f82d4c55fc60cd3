// wampy (npm `wampy`, over the `ws` package) against the demo app, once per serializer.
import { clients } from '../lib/clients.js';
import { defineSuite } from '../lib/suite.js';

const client = clients.find((c) => c.name === 'wampy');
for (const serializer of client.serializers) defineSuite(client, serializer);
