# MLflow's tracking server with the PostgreSQL driver (the official image lacks it).
FROM python:3.11-slim
RUN pip install --no-cache-dir "mlflow==3.17.2" "psycopg[binary]==3.3.9"
EXPOSE 5000
