import { deliverySuite } from './delivery.js';
import { serverTopology } from '../topology.js';

deliverySuite(serverTopology);
