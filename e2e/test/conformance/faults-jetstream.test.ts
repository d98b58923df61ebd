import { faultsSuite } from './faults.js';
import { jetstreamTopology } from '../topology.js';

faultsSuite(jetstreamTopology);
