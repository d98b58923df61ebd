import { deliverySuite } from './delivery.js';
import { jetstreamTopology } from '../topology.js';

deliverySuite(jetstreamTopology);
