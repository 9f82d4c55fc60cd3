// autobahn-js (npm `autobahn`) against the demo app, once per serializer.
import { clients } from '../lib/clients.js';
import { defineSuite } from '../lib/suite.js';

const client = clients.find((c) => c.name === 'autobahn-js');
for (const serializer of client.serializers) defineSuite(client, serializer);
