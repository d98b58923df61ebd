import { httpSuite } from './http.js';
import { jetstreamTopology } from '../topology.js';

httpSuite(jetstreamTopology);
