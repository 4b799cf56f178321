FROM busybox:1.36 AS ten
RUN echo step 1 1795976616175708770 >> /steps
RUN echo step 2 1795976616175708770 >> /steps
RUN echo step 3 1795976616175708770 >> /steps
RUN echo step 4 1795976616175708770 >> /steps
RUN echo step 5 1795976616175708770 >> /steps
RUN echo step 6 1795976616175708770 >> /steps
RUN echo step 7 1795976616175708770 >> /steps
RUN echo step 8 1795976616175708770 >> /steps
RUN echo step 9 1795976616175708770 >> /steps
FROM ten AS after
RUN cat /steps
