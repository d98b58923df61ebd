import { faultsSuite } from './faults.js';
import { serverTopology } from '../topology.js';

faultsSuite(serverTopology);
