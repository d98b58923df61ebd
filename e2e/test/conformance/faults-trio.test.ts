import { faultsSuite } from './faults.js';
import { trioTopology } from '../topology.js';

faultsSuite(trioTopology);
