import { httpSuite } from './http.js';
import { trioTopology } from '../topology.js';

httpSuite(trioTopology);
