import { deliverySuite } from './delivery.js';
import { trioTopology } from '../topology.js';

deliverySuite(trioTopology);
